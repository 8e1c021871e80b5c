/*
 * pppd plugin for the lab ISP (server side only): authenticates PAP and CHAP peers
 * against /run/isp/accounts and enforces a per-ISP session limit *at authentication*,
 * so a refused dial fails exactly like an ISP that says "too many sessions":
 * the client's pppd gets PAP-NAK / CHAP-Failure and exits with an auth error.
 *
 *   /run/isp/accounts   lines "user password" (read on every authentication)
 *   /run/isp/limit      "off" or a number N: at most N authenticated sessions
 *   /run/isp/granted/   one file per live pppd that passed authentication (named by pid);
 *                       the pppd removes its own entry when it exits, and entries whose pid
 *                       is gone or no longer a pppd (pids wrap in a long run) are pruned, so a
 *                       session counts until its pppd exits (also one abandoned without PADT).
 * The check-and-grant runs under flock(/run/isp/lock), so concurrent dials cannot both
 * take the last slot.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <pppd/pppd.h>
#include <pppd/chap-new.h>
#include <pppd/fsm.h>
#include <pppd/lcp.h>

char pppd_version[] = VERSION;

#define ISP_DIR "/run/isp"

static int read_secret(const char *user, char *secret, size_t len)
{
	FILE *f = fopen(ISP_DIR "/accounts", "r");
	char u[256], p[256];
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fscanf(f, "%255s %255s", u, p) == 2) {
		if (strcmp(u, user) == 0) {
			snprintf(secret, len, "%s", p);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* Is pid a live pppd? A bare kill(pid, 0) would count a recycled pid. */
static int is_pppd(long pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	return strcmp(comm, "pppd\n") == 0;
}

/* Number of live granted sessions, pruning entries whose pppd is gone. */
static int live_sessions(void)
{
	DIR *d = opendir(ISP_DIR "/granted");
	struct dirent *e;
	char path[300];
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		long pid = strtol(e->d_name, NULL, 10);
		if (pid <= 0)
			continue;
		if (is_pppd(pid)) {
			n++;
		} else {
			snprintf(path, sizeof(path), ISP_DIR "/granted/%s", e->d_name);
			unlink(path);
		}
	}
	closedir(d);
	return n;
}

static int session_limit(void)
{
	FILE *f = fopen(ISP_DIR "/limit", "r");
	int limit = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &limit) != 1)
			limit = -1;	/* "off" */
		fclose(f);
	}
	return limit;
}

/*
 * Runs `verify` (credential check) only if a session slot is free; on success the
 * slot is taken for this pppd. Returns 1 = accept, 0 = refuse.
 */
static int admit(const char *user, int (*verify)(void *), void *arg, char **msgp)
{
	static char msg[80];
	int fd = open(ISP_DIR "/lock", O_RDWR | O_CREAT, 0600);
	int limit, live, ok = 0;
	char path[64];

	if (fd >= 0)
		flock(fd, LOCK_EX);
	limit = session_limit();
	live = live_sessions();
	if (limit >= 0 && live >= limit) {
		snprintf(msg, sizeof(msg), "session limit reached (%d/%d)", live, limit);
		notice("isp-auth: refusing %s: %s", user, msg);
	} else if (!verify(arg)) {
		snprintf(msg, sizeof(msg), "authentication failed");
		notice("isp-auth: bad credentials for %s", user);
	} else {
		snprintf(path, sizeof(path), ISP_DIR "/granted/%d", (int)getpid());
		close(open(path, O_WRONLY | O_CREAT, 0644));
		snprintf(msg, sizeof(msg), "welcome");
		notice("isp-auth: accepted %s (%d live before)", user, live);
		ok = 1;
	}
	if (fd >= 0)
		close(fd);	/* releases the flock */
	if (msgp != NULL)
		*msgp = msg;
	return ok;
}

struct pap_req { const char *user, *passwd; };

static int pap_verify(void *arg)
{
	struct pap_req *r = arg;
	char secret[256];

	return read_secret(r->user, secret, sizeof(secret)) && strcmp(secret, r->passwd) == 0;
}

static int isp_pap_auth(char *user, char *passwd, char **msgp,
			struct wordlist **paddrs, struct wordlist **popts)
{
	struct pap_req r = { user, passwd };

	*paddrs = NULL;
	*popts = NULL;
	return admit(user, pap_verify, &r, msgp);
}

struct chap_req {
	char *name; int id; struct chap_digest_type *digest;
	unsigned char *challenge, *response; char *message; int message_space;
};

static int chap_verify(void *arg)
{
	struct chap_req *r = arg;
	char secret[256];

	if (!read_secret(r->name, secret, sizeof(secret)))
		return 0;
	return r->digest->verify_response(r->id, r->name, (unsigned char *)secret,
					  (int)strlen(secret), r->challenge, r->response,
					  r->message, r->message_space);
}

static int isp_chap_verify(char *name, char *ourname, int id,
			   struct chap_digest_type *digest, unsigned char *challenge,
			   unsigned char *response, char *message, int message_space)
{
	struct chap_req r = { name, id, digest, challenge, response, message, message_space };
	char *msg = NULL;
	int ok = admit(name, chap_verify, &r, &msg);

	(void)ourname;
	if (!ok && msg != NULL)
		snprintf(message, message_space, "%s", msg);
	return ok;
}

/* The session's slot is free as soon as its pppd ends, not at the next count. */
static void release_slot(void *arg, int code)
{
	char path[64];

	(void)arg;
	(void)code;
	snprintf(path, sizeof(path), ISP_DIR "/granted/%d", (int)getpid());
	unlink(path);
}

static int have_secrets(void) { return 1; }
static int any_address(u_int32_t addr) { (void)addr; return 1; }

void plugin_init(void)
{
	pap_check_hook = have_secrets;
	pap_auth_hook = isp_pap_auth;
	chap_check_hook = have_secrets;
	chap_verify_hook = isp_chap_verify;
	add_notifier(&exitnotify, release_slot, NULL);
	allowed_address_hook = any_address;	/* the address comes from pppoe-server's pool */
	/* Ask for CHAP (peer may NAK to PAP), never EAP: like a BRAS, and EAP bypasses the hooks. */
	lcp_wantoptions[0].neg_eap = 0;
	info("isp-auth plugin loaded");
}
