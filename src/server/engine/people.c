/* Username / password policy and people's secrets. */
#include "server/engine/people.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/err.h"

/* Common passwords of at least PEOPLE_PASSWORD_MIN characters (shorter ones are refused
 * by length already); compared case-insensitively. */
static const char *const common_passwords[] = {
	"123456789012",
	"1234567890123",
	"12345678901234",
	"123456789012345",
	"1234567890123456",
	"password1234",
	"password12345",
	"password123456",
	"passwordpassword",
	"password123!",
	"password1234!",
	"qwerty123456",
	"qwertyuiop12",
	"qwertyuiopas",
	"qwertyuiopasdf",
	"1q2w3e4r5t6y",
	"1qaz2wsx3edc",
	"iloveyou1234",
	"letmein12345",
	"letmeinletmein",
	"welcome12345",
	"welcome123456",
	"changeme1234",
	"changemechangeme",
	"administrator",
	"administrator1",
	"admin1234567",
	"adminadminadmin",
	"abc123456789",
	"abcdefghijkl",
	"abcdefghijklm",
	"aaaaaaaaaaaa",
	"111111111111",
	"000000000000",
	"trustno1trustno1",
	"superman1234",
	"football1234",
	"baseball1234",
	"monkey123456",
	"dragon123456",
	"sunshine1234",
	"princess1234",
	"starwars1234",
	"whatever1234",
	"correcthorsebatterystaple",
	"correct horse battery staple",
	"resticmanager",
	"restic-manager",
	"resticmanager1",
	"backup123456",
	"backupbackup",
	"p@ssw0rd1234",
	"passw0rd1234",
	"Summer2024!!",
	"Winter2024!!",
	"Spring2025!!",
	"Autumn2025!!",
	"Company12345",
};

int people_username_ok(const char *u)
{
	if (!u)
		return 0;
	size_t n = strlen(u);
	if (n < 1 || n > 64)
		return 0;
	for (const char *c = u; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return 0;
	}
	return 1;
}

const char *people_password_problem(const char *username, const char *password)
{
	if (!password || strlen(password) < PEOPLE_PASSWORD_MIN)
		return "password must be at least 12 characters";
	if (strlen(password) > 1024)
		return "password must be at most 1024 characters";
	if (username && strcasecmp(username, password) == 0)
		return "password must not be the username";
	for (size_t i = 0; i < sizeof common_passwords / sizeof common_passwords[0]; i++)
		if (strcasecmp(common_passwords[i], password) == 0)
			return "password is too common";
	return NULL;
}

char *people_new_setup_token(char hash_out[65])
{
	char *t = rm_random_token(32);
	rm_sha256_hex(t, strlen(t), hash_out);
	return t;
}

char *people_new_api_token(char hash_out[65])
{
	char *r = rm_random_token(32);
	char *t = rm_xasprintf("%s%s", PEOPLE_TOKEN_PREFIX, r);
	free(r);
	rm_sha256_hex(t, strlen(t), hash_out);
	return t;
}

int people_is_api_token(const char *s)
{
	return s && strncmp(s, PEOPLE_TOKEN_PREFIX, strlen(PEOPLE_TOKEN_PREFIX)) == 0;
}
