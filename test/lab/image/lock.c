/*
 * The lab's /bin/lock: OpenWrt's BusyBox `lock` applet, which Debian's BusyBox lacks.
 * Written from its documented behaviour:
 *
 *   lock [-s] [-n] FILE   take an flock on FILE (exclusive, or shared with -s; -n: fail at
 *                         once instead of waiting), leave a detached child holding it and
 *                         write the child's pid into FILE
 *   lock -w FILE          wait until FILE can be locked, hold nothing
 *   lock -u FILE          release: kill the holder whose pid is in FILE
 *
 * In C rather than a script because hotplug handlers call it twice per event and netifd
 * runs events one at a time: an interpreter's start-up under emulation (about 1 s) would
 * dwarf what the applet costs on a router.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void)
{
	fputs("Usage: lock [-suw] <filename>\n", stderr);
	return 1;
}

static int unlock(const char *path)
{
	char buf[32] = "";
	ssize_t n;
	long pid;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid > 0)
		kill((pid_t)pid, SIGTERM);
	return 0;
}

static void hold(int fd, int ready)
{
	char buf[32];
	int null = open("/dev/null", O_RDWR);

	setsid();
	if (fork() > 0)
		_exit(0);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
		_exit(1);
	if (write(ready, "1", 1) != 1)
		_exit(1);
	close(ready);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	signal(SIGTERM, SIG_DFL);
	for (;;)
		pause();	/* the flock lives as long as this process */
}

int main(int argc, char **argv)
{
	int shared = 0, do_unlock = 0, waitonly = 0, nonblock = 0;
	int i = 1, fd, op, pipefd[2];
	char c;
	pid_t pid;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		for (const char *p = argv[i] + 1; *p; p++) {
			switch (*p) {
			case 's': shared = 1; break;
			case 'u': do_unlock = 1; break;
			case 'w': waitonly = 1; break;
			case 'n': nonblock = 1; break;
			default: return usage();
			}
		}
	}
	if (argc - i != 1)
		return usage();
	if (do_unlock)
		return unlock(argv[i]);

	fd = open(argv[i], O_RDWR | O_CREAT, 0700);
	if (fd < 0) {
		perror(argv[i]);
		return 1;
	}
	op = (shared ? LOCK_SH : LOCK_EX) | (nonblock ? LOCK_NB : 0);
	if (flock(fd, op) != 0)
		return 1;
	if (waitonly)
		return 0;
	if (pipe(pipefd) != 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(pipefd[0]);
		hold(fd, pipefd[1]);
	}
	/* return only once the holder has written its pid, so `lock -u` right after works */
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		return 1;
	waitpid(pid, NULL, 0);
	return 0;
}
