#include "server/http/proxy.h"

#include <stdlib.h>

#include "common/err.h"
#include "tap.h"

TEST(parse)
{
	struct proxy_list *l = NULL;
	char err[128];
	EQ_INT(proxy_list_parse("10.0.0.0/8, 127.0.0.1 ::1/128,fd00::/8", &l, err, sizeof err),
	       RM_OK);
	OK(proxy_list_contains(l, "10.1.2.3"));
	OK(proxy_list_contains(l, "127.0.0.1"));
	OK(proxy_list_contains(l, "::ffff:127.0.0.1"));
	OK(!proxy_list_contains(l, "127.0.0.2"));
	OK(proxy_list_contains(l, "::1"));
	OK(proxy_list_contains(l, "fd12::1"));
	OK(!proxy_list_contains(l, "fe80::1"));
	OK(!proxy_list_contains(l, "11.0.0.1"));
	OK(!proxy_list_contains(l, "not-an-ip"));
	proxy_list_free(l);
	l = NULL;
	EQ_INT(proxy_list_parse("", &l, err, sizeof err), RM_OK);
	OK(!proxy_list_contains(l, "127.0.0.1"));
	proxy_list_free(l);
	l = NULL;
	EQ_INT(proxy_list_parse(NULL, &l, err, sizeof err), RM_OK);
	proxy_list_free(l);
}

TEST(parse_errors)
{
	struct proxy_list *l = NULL;
	char err[128];
	EQ_INT(proxy_list_parse("10.0.0.0/33", &l, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(proxy_list_parse("10.0.0.0/x", &l, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(proxy_list_parse("example.com", &l, err, sizeof err), RM_ERR_INVAL);
	EQ_INT(proxy_list_parse("::1/129", &l, err, sizeof err), RM_ERR_INVAL);
	OK(l == NULL);
}

TEST(client_ip)
{
	struct proxy_list *l = NULL;
	char err[128], ip[64];
	EQ_INT(proxy_list_parse("127.0.0.1, 10.0.0.0/8", &l, err, sizeof err), RM_OK);
	/* untrusted peer: XFF ignored */
	proxy_client_ip(l, "192.0.2.9", "203.0.113.5", ip, sizeof ip);
	EQ_STR(ip, "192.0.2.9");
	/* trusted peer: right-most untrusted entry */
	proxy_client_ip(l, "127.0.0.1", "198.51.100.1, 203.0.113.5", ip, sizeof ip);
	EQ_STR(ip, "203.0.113.5");
	/* chain of trusted proxies is skipped */
	proxy_client_ip(l, "127.0.0.1", "203.0.113.5 , 10.1.1.1,10.2.2.2", ip, sizeof ip);
	EQ_STR(ip, "203.0.113.5");
	/* a spoofed left part does not matter */
	proxy_client_ip(l, "127.0.0.1", "1.2.3.4, 203.0.113.7", ip, sizeof ip);
	EQ_STR(ip, "203.0.113.7");
	/* garbage stops the walk at the last good hop */
	proxy_client_ip(l, "127.0.0.1", "evil, 10.0.0.3", ip, sizeof ip);
	EQ_STR(ip, "10.0.0.3");
	proxy_client_ip(l, "127.0.0.1", NULL, ip, sizeof ip);
	EQ_STR(ip, "127.0.0.1");
	proxy_client_ip(l, "127.0.0.1", "", ip, sizeof ip);
	EQ_STR(ip, "127.0.0.1");
	proxy_list_free(l);
	/* no list: peer */
	proxy_client_ip(NULL, "127.0.0.1", "203.0.113.5", ip, sizeof ip);
	EQ_STR(ip, "127.0.0.1");
}

int main(void)
{
	RUN(parse);
	RUN(parse_errors);
	RUN(client_ip);
	return tap_done();
}
