/* when — see when.h. */
#include "when.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipam.h"

void when_format(int64_t t, char out[WHEN_SIZE])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(out, WHEN_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, WHEN_SIZE, "@%lld", (long long)t);
}

/* Exactly n decimal digits at s. */
static bool when_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int when_days_in(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 3339 date-time; false when text is not one. */
static bool when_rfc3339(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (strlen(s) < 20 || !when_digits(s, 4, &y) || s[4] != '-' ||
	    !when_digits(s + 5, 2, &mo) || s[7] != '-' || !when_digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !when_digits(s + 11, 2, &h) ||
	    s[13] != ':' || !when_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !when_digits(s + 17, 2, &sec))
		return false;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && !s[1])
		sign = 0;
	else if ((*s == '+' || *s == '-') && strlen(s) == 6 &&
		 when_digits(s + 1, 2, &oh) && s[3] == ':' && when_digits(s + 4, 2, &om))
		sign = *s == '+' ? 1 : -1;
	else
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > when_days_in(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	return true;
}

int when_parse(const char *text, int64_t now, int64_t *out, char *err,
	       size_t errlen)
{
	int64_t ago;

	if (when_rfc3339(text, out))
		return 0;
	if (!ipam_duration_parse(text, &ago, NULL)) {
		*out = now - ago;
		return 0;
	}
	snprintf(err, errlen, "'%.64s' is neither an RFC 3339 time "
		 "(2024-05-01T12:00:00Z) nor a duration (90s, 30m, 12h, 7d, 1h30m)",
		 text);
	return -EINVAL;
}
