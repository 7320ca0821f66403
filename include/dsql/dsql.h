/*
 * libdsql: Amazon Aurora DSQL (and plain PostgreSQL) from C.
 *
 * Include this one header; it brings in every module:
 *   dsql/common.h  status codes, dsql_error, logging callback
 *   dsql/auth.h    AWS credentials, the credential chain, IAM auth tokens, endpoints
 *   dsql/conn.h    configuration, connections, values, results, pipelining
 *   dsql/pool.h    the pool, the OCC-retrying transaction runner, dsql_db handles
 *   dsql/model.h   models over your structs, where/order/include, CRUD
 *   dsql/assoc.h   associations, eager loading, atomic set/add/remove
 *   dsql/schema.h  create/drop tables, sync that works on Aurora DSQL
 *   dsql/migrate.h versioned migrations applied in the form Aurora DSQL accepts
 *   dsql/batch.h   batches: model operations queued, then sent in one round trip
 *
 * Thread rule: see each module's header.
 */
#ifndef DSQL_H
#define DSQL_H

#include "dsql/common.h"
#include "dsql/auth.h"
#include "dsql/conn.h"
#include "dsql/pool.h"
#include "dsql/model.h"
#include "dsql/assoc.h"
#include "dsql/schema.h"
#include "dsql/migrate.h"
#include "dsql/batch.h"

#endif
