/*
 * libdsql: Amazon Aurora DSQL (and plain PostgreSQL) from C.
 *
 * Include this one header; it brings in every module:
 *   dsql/common.h  status codes, dsql_error, logging callback
 *   (further modules are added as the library grows)
 *
 * Thread rule: see each module's header.
 */
#ifndef DSQL_H
#define DSQL_H

#include "dsql/common.h"

#endif
