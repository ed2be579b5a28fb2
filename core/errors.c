/* The one table of wire error codes (enum sensed_wire_code), C error names and HTTP
 * reason phrases. */
#include "errors.h"

#include <stddef.h>
#include <string.h>

const char *sensed_strerror(int err)
{
	switch (err) {
	case SENSED_OK:
		return "success";
	case SENSED_ENOMEM:
		return "out of memory";
	case SENSED_EINVAL:
		return "invalid argument";
	case SENSED_ENOTFOUND:
		return "not found";
	case SENSED_EEXISTS:
		return "already exists";
	case SENSED_EUNIQUE:
		return "unique index violation";
	case SENSED_ESTORE:
		return "storage engine failure";
	case SENSED_ESTATE:
		return "called at the wrong time";
	case SENSED_EFILTER:
		return "malformed filter, projection or sort";
	case SENSED_ETOOLARGE:
		return "size limit exceeded";
	case SENSED_EBUSY:
		return "resource exhausted, retry later";
	case SENSED_EREADONLY:
		return "write in a read-only transaction";
	case SENSED_EBADID:
		return "invalid object id";
	case SENSED_EUNSUPPORTED:
		return "not supported";
	default:
		return "unknown error";
	}
}

/* Every wire code, its default message.  Codes below 1000 and from 2001 are Sisense's
 * own; 1000-1199 are ours (documented in include/sensed/plugin.h). */
static const struct {
	int code;
	const char *message;
} wire_codes[] = {
    {SENSED_CODE_INVALID_EXPAND, "Invalid expand"},
    {SENSED_CODE_INVALID_OBJECT_ID, "Invalid object ID"},
    {SENSED_CODE_BAD_REQUEST, "Bad request"},
    {SENSED_CODE_INVALID_JSON, "Invalid JSON body"},
    {SENSED_CODE_BODY_TOO_LARGE, "Request body too large"},
    {SENSED_CODE_NOT_FOUND, "Resource not found"},
    {SENSED_CODE_METHOD_NOT_ALLOWED, "Method not allowed"},
    {SENSED_CODE_INTERNAL, "Internal server error"},
    {SENSED_CODE_UNAVAILABLE, "Service unavailable, retry later"},
    {SENSED_CODE_PLUGIN_DISABLED, "Plugin is disabled"},
    {SENSED_CODE_INVALID_PARAMETER, "Invalid parameter"},
    {SENSED_CODE_FORBIDDEN, "Forbidden"},
    {SENSED_CODE_UNSUPPORTED_MEDIA, "Unsupported media type"},
    {SENSED_CODE_TIMEOUT, "Request timeout"},
    {SENSED_CODE_FEATURE_DISABLED, "Feature is disabled"},
    {SENSED_CODE_UNAUTHORIZED, "Invalid token"},
    {SENSED_CODE_INVALID_CREDENTIALS, "Invalid username or password"},
    {SENSED_CODE_ACCOUNT_LOCKED, "Account locked, too many failed logins"},
    {SENSED_CODE_TOO_MANY_ATTEMPTS, "Too many login attempts, retry later"},
    {SENSED_CODE_ACCOUNT_MAIL_THROTTLED, "Too many account e-mails for this address, retry later"},
    {SENSED_CODE_ACCOUNT_TOKEN_INVALID, "Invalid or expired token"},
    {SENSED_CODE_ACCOUNT_ALREADY_ACTIVE, "User is already active"},
    {SENSED_CODE_ACCOUNT_NOT_ACTIVE, "User is not active"},
    {SENSED_CODE_EMAIL_NOT_CONFIGURED, "Email server is not configured"},
    {SENSED_CODE_SERVER_ACCESS_EXISTS, "Trusted server already exists"},
    {SENSED_CODE_SERVER_ACCESS_NOT_FOUND, "Trusted server not found"},
    {SENSED_CODE_GROUP_NOT_FOUND, "Group not found"},
    {SENSED_CODE_GROUP_EXISTS, "Group already exists"},
    {SENSED_CODE_SYSTEM_GROUP, "System groups cannot be changed or deleted"},
    {SENSED_CODE_ROLE_NOT_FOUND, "Role not found"},
    {SENSED_CODE_OLD_PASSWORD_INCORRECT, "Old password is missing or incorrect"},
    {SENSED_CODE_NOT_CONFIGURED, "Not configured yet"},
    {SENSED_CODE_FEATURE_NOT_FOUND, "Feature not found"},
    {SENSED_CODE_NO_PLUGINS_UPDATED, "No plugins updated"},
    {SENSED_CODE_PLUGIN_ESSENTIAL, "Plugin cannot be disabled"},
    {SENSED_CODE_LANGUAGE_NOT_FOUND, "Language not found"},
    {SENSED_CODE_SHARE_READ_ONLY, "The dashboard is shared with you for viewing only"},
    {SENSED_CODE_FOLDER_NOT_FOUND, "Folder not found"},
    {SENSED_CODE_FOLDER_CYCLE, "A folder cannot move under itself or its descendants"},
    {SENSED_CODE_UNTRUSTED_SERVER, "The target is not a trusted server"},
    {SENSED_CODE_COPY_FAILED, "The target server did not accept the copy"},
    {SENSED_CODE_NOT_DASHBOARD_OWNER, "Only the dashboard owner can do this"},
    {SENSED_CODE_NO_PREVIOUS_VERSION, "No previous version to restore"},
    {SENSED_CODE_USER_NOT_FOUND, "User not found"},
    {SENSED_CODE_USERS_NOT_ARRAY, "Users must be an array"},
    {SENSED_CODE_MANDATORY_FIELDS_MISSING, "Mandatory fields missing"},
    {SENSED_CODE_USER_EXISTS, "User already exists"},
    {SENSED_CODE_BULK_DUPLICATES, "Duplicates in bulk"},
    {SENSED_CODE_MULTIPLE_SUPER_USERS, "Multiple super users not allowed"},
    {SENSED_CODE_LICENSE_EXCEEDED, "License exceeded"},
    {SENSED_CODE_MANDATORY_FIELDS_EMPTY, "Mandatory fields empty"},
    {SENSED_CODE_SUPER_USER_DELETE, "Super user cannot be deleted"},
    {SENSED_CODE_EMAIL_SERVER_SETTINGS, "Email server settings conflict"},
    {SENSED_CODE_DASHBOARD_NOT_FOUND, "Dashboard not found"},
    {SENSED_CODE_WIDGET_NOT_FOUND, "Widget not found"},
};

const char *wire_code_message(int code)
{
	for (size_t i = 0; i < sizeof(wire_codes) / sizeof(wire_codes[0]); i++)
		if (wire_codes[i].code == code)
			return wire_codes[i].message;
	return "Error";
}

const char *http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		if (status >= 200 && status < 300)
			return "OK";
		if (status >= 400 && status < 500)
			return "Bad Request";
		return "Internal Server Error";
	}
}

json_t *error_envelope(int status, int code, const char *message, const json_t *extra)
{
	json_t *err = json_pack("{s:i, s:s, s:i, s:s}", "code", code, "message",
	                        message ? message : wire_code_message(code), "status", status,
	                        "httpMessage", http_reason(status));
	if (!err) /* message not UTF-8: fall back to the table's */
		err = json_pack("{s:i, s:s, s:i, s:s}", "code", code, "message",
		                wire_code_message(code), "status", status, "httpMessage",
		                http_reason(status));
	if (!err)
		return NULL;
	if (extra && json_is_object(extra)) {
		const char *key;
		json_t *value;
		json_object_foreach((json_t *)extra, key, value)
		{
			if (strcmp(key, "code") && strcmp(key, "status") &&
			    strcmp(key, "httpMessage"))
				json_object_set(err, key, value);
		}
	}
	return json_pack("{s:o}", "error", err);
}

void store_error_to_wire(int err, int *status, int *code)
{
	switch (err) {
	case SENSED_ENOTFOUND:
		*status = 404;
		*code = SENSED_CODE_NOT_FOUND;
		break;
	case SENSED_EUNIQUE:
	case SENSED_EEXISTS:
		*status = 400;
		*code = SENSED_CODE_INVALID_PARAMETER;
		break;
	case SENSED_EBADID:
		*status = 422;
		*code = SENSED_CODE_INVALID_OBJECT_ID;
		break;
	case SENSED_EFILTER:
	case SENSED_EINVAL:
		*status = 400;
		*code = SENSED_CODE_INVALID_PARAMETER;
		break;
	case SENSED_ETOOLARGE:
		*status = 413;
		*code = SENSED_CODE_BODY_TOO_LARGE;
		break;
	case SENSED_EBUSY:
	case SENSED_ENOMEM:
		*status = 503;
		*code = SENSED_CODE_UNAVAILABLE;
		break;
	default:
		*status = 500;
		*code = SENSED_CODE_INTERNAL;
		break;
	}
}
