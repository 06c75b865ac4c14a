/* The message of the last error raised on each thread. Kernels report errors through the
 * artifact's TVMFFIErrorSetRaisedFromCStrParts, which forwards to ronn_error_hook; the loader
 * reads the message on the same thread once the kernel returns non-zero. Thread-local storage
 * is the only mutable state shared by all sessions. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MESSAGE_CAPACITY 2048

typedef struct thread_error {
  int set;
  char message[MESSAGE_CAPACITY];
} thread_error;

static pthread_key_t error_key;
static pthread_once_t error_key_once = PTHREAD_ONCE_INIT;
static int error_key_ok;

static void create_key(void) { error_key_ok = pthread_key_create(&error_key, free) == 0; }

/* Allocated on the first error of a thread only, so successful runs allocate nothing. */
static thread_error* get_state(int create) {
  pthread_once(&error_key_once, create_key);
  if (!error_key_ok) return NULL;
  thread_error* state = (thread_error*)pthread_getspecific(error_key);
  if (state == NULL && create) {
    state = (thread_error*)malloc(sizeof *state);
    if (state != NULL && pthread_setspecific(error_key, state) != 0) {
      free(state);
      state = NULL;
    }
  }
  return state;
}

static size_t append(char* buffer, size_t used, const char* text) {
  size_t length = strlen(text);
  size_t room = MESSAGE_CAPACITY - 1 - used;
  if (length > room) length = room;
  memcpy(buffer + used, text, length);
  return used + length;
}

void ronn_error_hook(const char* kind, const char** parts, int32_t num_parts) {
  thread_error* state = get_state(1);
  if (state == NULL) return;
  size_t used = append(state->message, 0, kind != NULL ? kind : "Error");
  used = append(state->message, used, ": ");
  for (int32_t i = 0; i < num_parts; ++i) {
    if (parts != NULL && parts[i] != NULL) used = append(state->message, used, parts[i]);
  }
  state->message[used] = '\0';
  state->set = 1;
}

void ronn_error_set_message(const char* message) {
  thread_error* state = get_state(1);
  if (state == NULL) return;
  state->message[append(state->message, 0, message)] = '\0';
  state->set = 1;
}

void ronn_error_clear(void) {
  thread_error* state = get_state(0);
  if (state != NULL) state->set = 0;
}

const char* ronn_error_get(void) {
  thread_error* state = get_state(0);
  return state != NULL && state->set ? state->message : NULL;
}
