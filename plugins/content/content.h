/* Internal interface of the content plugin (folders, dashboards, widgets,
 * shares, publishing, import/export, copy).  Storage model: see README.md
 * beside this file.
 *
 * Threads: everything here runs on the request's loop thread unless marked
 * otherwise. Ownership: functions taking `json_t **out` hand the caller a new
 * reference; every other json_t argument is borrowed. */
#ifndef SENSED_CONTENT_H
#define SENSED_CONTENT_H

#include <sensed/plugin.h>

extern const sensed_host *host;

struct content_store {
	sensed_collection *folders;    /* {_id = oid, oid, name, owner, userId, parentId, ...} */
	sensed_collection *dashboards; /* the owner's working copy, _id = oid */
	sensed_collection *widgets;    /* the owner's working copy, oid unique, dashboardid */
	sensed_collection *published;  /* {_id = dashboard oid, dashboard, widgets}: last publish */
	sensed_collection *overrides;  /* {key "oid:user", oid, userId, filters?, layout?} */
	sensed_collection *backups;    /* {_id = dashboard oid, dashboard, widgets}: undo_Import */
	sensed_collection *users;
	sensed_collection *roles;
	sensed_collection *groups;
	sensed_collection *server_access;
};
extern struct content_store store;
/* Ids of the system groups every user belongs to; "" when absent.  Set in init.
 */
extern char everyone_ids[2][25];

/* What the signed-in user may do with one dashboard. */
enum access { ACCESS_NONE, ACCESS_VIEW, ACCESS_EDIT, ACCESS_OWNER };

/* ---- common.c */
/* The ids a share can name for the caller: the user, its groups, and the system
 * groups every user belongs to.  New reference. */
json_t *principals_new(sensed_request *req);
enum access dash_access(const json_t *dash, const char *user_id, const json_t *principals);
/* Load the owner's document of dashboard `oid` (new reference) and the caller's
 * access. SENSED_ENOTFOUND when it does not exist or the caller may not see it.
 */
int dash_open(sensed_txn *txn, sensed_request *req, const char *oid, json_t **dash,
              enum access *access);
/* dash_open for a caller who needs at least `need` (ACCESS_VIEW: any access);
 * `access` may be NULL.  Replies on failure: 404 10001 (absent or invisible),
 * 403 1300 (a view recipient where EDIT is needed), 403 NOT_DASHBOARD_OWNER
 * (where OWNER is needed; SENSED_EINVAL), or the store error. */
int dash_open_for(sensed_txn *txn, sensed_request *req, const char *oid, enum access need,
                  json_t **dash, enum access *access);
/* Begin a write transaction (*txn) and dash_open_for in it.  On failure the
 * reply is sent, the transaction aborted and *dash is NULL. */
int dash_begin(sensed_request *req, const char *oid, enum access need, sensed_txn **txn,
               json_t **dash, enum access *access);
/* End write transaction `txn`: commit when `err` is 0, otherwise abort.  On any
 * failure replies the store error and returns it; 0 means committed and the
 * caller sends the success reply. */
int txn_end(sensed_request *req, sensed_txn *txn, int err);
/* The owner's widgets of dashboard `oid`, in storage (insertion) order.  New
 * reference. */
int dash_widgets(sensed_txn *txn, const char *oid, json_t **out);
/* The caller's view of `dash` (see README): new references in *view and, when
 * `widgets` is not NULL, *widgets. */
int dash_view(sensed_txn *txn, sensed_request *req, const json_t *dash, enum access access,
              json_t **view, json_t **widgets);
/* The shares list of a dashboard of `owner` shared with nobody yet (the owner's
 * entry alone).  New reference. */
json_t *owner_shares_new(const char *owner);
/* Make `dash` (updated in place) an owner document: _id and oid `oid`, owned by
 * `owner` and shared with nobody. */
void dash_make_owned(json_t *dash, const char *oid, const char *owner);
/* Snapshot the owner's copy (and widgets) as the published version; stamps
 * lastPublish on `dash` (updated and stored). */
int dash_publish_txn(sensed_txn *txn, json_t *dash);
/* Give dashboard `dash` (the owner's document, updated and stored) and its
 * widgets to `new_owner`.  With `old_owner_rule` ("view"|"edit") the previous
 * owner keeps a share; without `keep_folder` the dashboard leaves its folder
 * (the new owner cannot see it). */
int dash_transfer_txn(sensed_txn *txn, json_t *dash, const char *new_owner,
                      const char *old_owner_rule, int keep_folder);
/* Replace the owner's working copy by `saved` {dashboard, widgets} (a published
 * version or an import backup); owner, shares and publish date stay. */
int dash_restore_txn(sensed_txn *txn, json_t *dash, const json_t *saved);
/* Validate and set the shares of `dash` (updated and stored): the owner's entry
 * first, then one entry per user/group.  A dashboard shared for the first time
 * is published so its recipients have a version to see.  SENSED_EINVAL with
 * *message (static) for an invalid list. */
int shares_apply_txn(sensed_txn *txn, json_t *dash, const json_t *shares, const char **message);
/* Replace `doc` (updated in place) under its own _id. */
int doc_replace_self(sensed_txn *txn, sensed_collection *coll, json_t *doc);
/* Delete a dashboard with its widgets, published version, overrides and backup.
 */
int dash_delete_txn(sensed_txn *txn, const char *oid);
/* Insert widgets (an array of widget objects, rewritten in place) for dashboard
 * `oid` owned by `owner`.  A widget keeps its oid unless `fresh_oids`, or it
 * has none, or another widget holds it; each change is recorded in `renamed`
 * (an object old oid -> new oid, may be NULL) so the caller can rewrite the
 * layout. */
int widgets_insert_txn(sensed_txn *txn, const char *oid, const char *owner, json_t *widgets,
                       int fresh_oids, json_t *renamed);
/* Validate `expand` against `allowed` (NULL-terminated).  On an unknown name
 * replies 404/202 and returns SENSED_EINVAL.  *declared receives the comma list
 * of the names below index `first_manual` (store references; malloc'd or NULL),
 * *manual a bitmask (1 << index) of the others. */
int expand_split(sensed_request *req, const char *expand, const char *const *allowed,
                 int first_manual, char **declared, unsigned *manual);
/* The request's JSON body in *body (borrowed from the request, as with
 * request_json) when it is an object; otherwise replies (400 `message` for a
 * missing or non-object body) and returns SENSED_EINVAL. */
int request_object(sensed_request *req, json_t **body, const char *message);
int query_bool(sensed_request *req, const char *name, int fallback);
/* Remove the fields the server owns from an object about to be stored. */
void strip_server_fields(json_t *obj);
/* Replace every widgetid under `layout` found as a key of `map` by map's value.
 */
void layout_rewrite(json_t *layout, const json_t *map);
/* Remove layout elements whose widgetid is `widget_oid`, and cells left empty.
 */
void layout_remove(json_t *layout, const char *widget_oid);
/* Give `widget_oid` a new cell at the end of the first column of dash's layout.
 */
void layout_append(json_t *dash, const char *widget_oid);
/* The key of a recipient's local changes ("<oid>:<user>"), into out[64]. */
void override_key(char out[64], const char *oid, const char *user_id);

void reply_dashboard_not_found(sensed_request *req, const char *oid);
/* The reply for a failed dash_open: 404 10001 for SENSED_ENOTFOUND, else the
 * store error. */
void reply_dash_error(sensed_request *req, int err, const char *oid);
void reply_widget_not_found(sensed_request *req, const char *oid);
void reply_folder_not_found(sensed_request *req, const char *oid);
/* Reply `body` (borrowed) with `status` when `err` is 0, else the store error.
 */
void reply_json_or_error(sensed_request *req, int err, int status, const json_t *body);
void reply_oom(sensed_request *req);
/* Does `user_id` exist?  Its role in *role. */
int user_role(sensed_txn *txn, const char *user_id, enum sensed_role *role);

/* ---- transfer.c */
struct import_options {
	const char *action; /* skip | overwrite | duplicate */
	int republish;      /* publish overwritten dashboards that have recipients */
	const char *folder; /* oid of the caller's folder to import into, or NULL */
};
/* Export form (.dash) of a view plus its widgets (both borrowed): new
 * reference. */
json_t *dash_export_new(const json_t *view, const json_t *widgets);
/* The export form of dashboard `oid` as the caller sees it (new reference in
 * *out); replies on failure (reply_dash_error). */
int dash_export_of(sensed_request *req, const char *oid, json_t **out);

/* ---- area registration (each file) */
int folders_init(sensed_plugin *self);
int dashboards_init(sensed_plugin *self);
int widgets_init(sensed_plugin *self);
int shares_init(sensed_plugin *self);
int transfer_init(sensed_plugin *self);
int copy_init(sensed_plugin *self);
/* Release what copy_init set up (libcurl's global state). */
void copy_fini(void);

#endif
