/* Private interface between the parts of the "account" plugin: the account flows
 * (account.c), the email server settings (email_server.c) and the mail outbox with its
 * delivery thread (mail.c). */
#ifndef SENSED_ACCOUNT_H
#define SENSED_ACCOUNT_H

#include <sensed/plugin.h>
#include <stdint.h>

/* Set in init, read-only afterwards (any thread). */
extern const sensed_host *account_host;
extern sensed_plugin *account_self;

/* Configuration (plugin section "account"), read in init.  Durations are in ms. */
struct account_config {
	char *public_base_url;      /* owned; no trailing '/' */
	int64_t activation_ttl_ms;  /* activationTokenTtlSeconds, default 24 h */
	int64_t reset_ttl_ms;       /* resetTokenTtlSeconds, default 1 h */
	int64_t throttle_window_ms; /* mailThrottleWindowSeconds, default 1 h */
	int throttle_max;           /* mailThrottleMax: mails per address and window, default 5 */
	int64_t retry_initial_ms;   /* retryInitialSeconds, default 30 */
	int64_t retry_max_ms;       /* retryMaxSeconds, default 3600 */
	int max_bulk;               /* maxBulk: emails in one begin_activate_bulk, default 1000 */
	char *ca_file; /* owned: caFile, the CAs that sign the mail server's certificate; NULL:
	                * the system's */
};
extern struct account_config account_config;

int64_t account_now_ms(void);
/* Delete expired tokens and stale throttle records.  Called by the delivery thread. */
void account_purge_expired(void);

/* ---- email_server.c */
/* Open the "email_server" collection and register the settings/email_server routes. */
int email_server_init(sensed_plugin *self);
/* The stored settings (a new reference, `pass` still sealed), or NULL when unset.  Any
 * thread. */
json_t *email_server_get(sensed_txn *txn);
/* Are settings stored and enabled? */
int email_server_usable(sensed_txn *txn);

/* ---- mail.c */
/* Open the outbox collection and start the delivery thread (last step of init). */
int mail_init(sensed_plugin *self);
/* Stop and join the delivery thread.  Safe when mail_init failed or was not called. */
void mail_fini(void);
/* Queue a message in `txn` (a write transaction of the caller).  `to`, `subject` and
 * `body` are borrowed; the body is stored sealed (it carries a token).  The message is
 * dropped undelivered after `expires_ms` (when its link expires).  Call mail_wake() once
 * the transaction has committed. */
int mail_queue(sensed_txn *txn, const char *to, const char *subject, const char *body,
               int64_t expires_ms);
/* Make the delivery thread look at the outbox now.  Any thread. */
void mail_wake(void);
/* Is `address` a plain addr-spec safe to put in a header and an SMTP command? */
int mail_address_valid(const char *address);

#endif
