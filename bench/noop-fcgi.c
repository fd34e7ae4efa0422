/* noop-fcgi.c - the no-op FastCGI responder bench/run uses as the ceiling
 * of the web server + FastCGI path.
 *
 * Same thread model as eccr-fcgi (src/fcgi/main.c): N threads, each with its
 * own FCGX_Request, loop on FCGX_Accept_r on the socket the web server hands
 * over on file descriptor 0 (or on -s SOCKET), and answer every request with
 * a tiny JSON 200.  No parsing, no database, no auth: whatever eccr-fcgi does
 * beyond this is the cost of the application.
 *
 * Built by bench/run: cc -O2 -o noop-fcgi bench/noop-fcgi.c -lfcgi -lpthread
 * Usage: noop-fcgi [-t THREADS] [-s SOCKET]   (THREADS defaults to 4, the
 * default server.threads; $NOOP_THREADS is read when -t is not given) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_THREADS 256

static const char reply[] =
	"Status: 200 OK\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 12\r\n"
	"\r\n"
	"{\"ok\":true}\n";

static void *worker(void *arg)
{
	FCGX_Request *r = arg;

	while (FCGX_Accept_r(r) >= 0) {
		FCGX_PutStr(reply, (int)(sizeof reply - 1), r->out);
		FCGX_Finish_r(r);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static FCGX_Request req[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	const char *sock = NULL, *env = getenv("NOOP_THREADS");
	int nthreads = env ? atoi(env) : 4, fd = 0, opt;

	while ((opt = getopt(argc, argv, "t:s:")) != -1) {
		switch (opt) {
		case 't': nthreads = atoi(optarg); break;
		case 's': sock = optarg; break;
		default:
			fprintf(stderr, "usage: noop-fcgi [-t THREADS] [-s SOCKET]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "noop-fcgi: threads must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "noop-fcgi: FCGX_Init failed\n");
		return 1;
	}
	if (sock != NULL && (fd = FCGX_OpenSocket(sock, 1024)) < 0) {
		perror("noop-fcgi: FCGX_OpenSocket");
		return 1;
	}
	for (int i = 0; i < nthreads; i++) {
		if (FCGX_InitRequest(&req[i], fd, 0) != 0 ||
		    pthread_create(&tid[i], NULL, worker, &req[i]) != 0) {
			fprintf(stderr, "noop-fcgi: cannot start thread %d\n", i);
			return 1;
		}
	}
	/* The web server stops us with SIGTERM (default action: exit). */
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	return 0;
}
