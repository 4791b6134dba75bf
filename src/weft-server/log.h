/*
 * log — weft-server's log: one event per line on stderr, with the time
 * (RFC 3339, UTC) and a level, so journald and a terminal both read it.
 */
#ifndef WEFT_SERVER_LOG_H
#define WEFT_SERVER_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Events below level are dropped (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);
void log_event(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_event(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_event(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
