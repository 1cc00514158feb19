/*
 * A configuration file of a test's own text, for the unit tests of a
 * profile's keys: config_setup() and config_teardown() are the TCase's
 * fixture (the profile's variable of the environment unset, the file
 * removed), write_conf() writes the text to a fresh file under /tmp and
 * load() runs config_load() on it. Static, for the one program that
 * includes it.
 */
#ifndef CD_TEST_CONFIG_FILE_H
#define CD_TEST_CONFIG_FILE_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char conf_path[64];

static void config_setup(void)
{
	unsetenv("COOLINGD_POLICY_PROFILE");
	conf_path[0] = '\0';
}

static void config_teardown(void)
{
	if (conf_path[0])
		unlink(conf_path);
}

static const char *write_conf(const char *text)
{
	if (conf_path[0])
		unlink(conf_path);
	snprintf(conf_path, sizeof conf_path, "/tmp/coolingd-conf-XXXXXX");
	int fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return conf_path;
}

static bool load(const char *text, struct config *c, char *msg, size_t size)
{
	msg[0] = '\0';
	return config_load(c, write_conf(text), false, msg, size);
}

#endif
