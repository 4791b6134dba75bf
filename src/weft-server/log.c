/* log — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "when.h"

static enum log_level log_level = LOG_LEVEL_INFO;
static const char *const log_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	log_level = level;
}

void log_event(enum log_level level, const char *fmt, ...)
{
	char line[1024], stamp[WHEN_SIZE];
	va_list ap;
	int n;

	if (level < log_level)
		return;
	when_format((int64_t)time(NULL), stamp);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One event, one line: newlines from messages never split it. */
	for (int i = 0; i < n && line[i]; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	fprintf(stderr, "%s %s: %s\n", stamp, log_names[level], line);
}
