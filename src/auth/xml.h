/*
 * A small, strict XML reader for the few elements of an STS response. It checks that the
 * document is well formed (matched tags, one root, known entities only, no DOCTYPE) and
 * returns the text of one element by its path. Thread rule: pure functions.
 */
#ifndef DSQL_AUTH_XML_H
#define DSQL_AUTH_XML_H

#include <stddef.h>

/*
 * Finds the first element whose ancestry is exactly path[0] (the root) ... path[depth-1]
 * and returns its text, entity-decoded, as a new string in *out (free with free(), or
 * dsql__free_secret for secrets). Returns 0 when found, 1 when the document is well formed
 * but has no such element (or it has child elements), -1 when it is malformed.
 */
int dsql__xml_text(const char *xml, size_t len, const char *const *path, size_t depth, char **out);

#endif
