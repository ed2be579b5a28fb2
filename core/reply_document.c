/* reply_document: the fast path for replies that are one stored document. */
#include "request.h"
#include "store.h"

#include <string.h>

static int query_shapes(const sensed_query *q)
{
	return q && ((q->fields && q->fields[0]) || (q->expand && q->expand[0]));
}

int reply_document(sensed_request *req, sensed_collection *coll, const char *id,
                   const sensed_query *q)
{
	sensed_txn *txn;
	int rc = store_txn_begin(0, &txn);

	if (rc)
		return rc;
	if (!query_shapes(q)) {
		const char *bytes;
		size_t len;

		rc = store_doc_get_raw(txn, coll, id, &bytes, &len);
		if (!rc)
			reply_raw(req, 200, bytes, len); /* copies the bytes before the txn ends */
	} else {
		json_t *doc = NULL;

		rc = store_doc_get(txn, coll, id, &doc);
		if (!rc) {
			/* The document exists: from here on this function answers. */
			int shape_rc = store_shape(txn, coll, q, doc);

			if (!shape_rc)
				reply_json(req, 200, doc);
			else if (shape_rc == SENSED_ENOTFOUND)
				reply_error(req, 404, SENSED_CODE_INVALID_EXPAND, NULL);
			else
				reply_store_error(req, shape_rc);
		}
		json_decref(doc);
	}
	store_txn_abort(txn);
	return rc;
}
