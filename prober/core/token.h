/*
 * token.h - the shape of tokens and variable names.
 *
 * ntp.conf cannot carry '"' in a value and '#' starts a comment, so tokens
 * are limited to [A-Za-z0-9_-] (docs/design.md); the database enforces the same
 * rule (sql/schema.sql).
 */
#ifndef NTPVERIFY_TOKEN_H
#define NTPVERIFY_TOKEN_H

#include <stdbool.h>

#define TOKEN_MIN_LEN 8
#define TOKEN_MAX_LEN 128
#define TOKEN_RULE "a token is 8 to 128 characters of A-Z a-z 0-9 _ -"
#define VARIABLE_RULE "a variable name is 1 to 64 characters of A-Z a-z 0-9 _ . -"

bool token_valid(const char *token);
bool variable_valid(const char *name);

#endif
