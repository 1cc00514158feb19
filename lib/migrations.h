/* The numbered migrations of sql/, compiled in (see cmake/embed_sql.cmake). */
#ifndef CD_MIGRATIONS_H
#define CD_MIGRATIONS_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int migrations_count;

#endif
