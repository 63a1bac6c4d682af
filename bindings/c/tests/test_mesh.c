/* The C API on the shipped examples: the decisions the Rust tests check, every error path,
 * and no leak (built with -fsanitize=address,undefined). Prints "N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include "mesh_core.h"

static int passed, failed;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
    }                                                                        \
  } while (0)

static char examples[4096];
static int len_mismatches; /* returned lengths that disagree with strlen */

/* Appends the file examples/NAME.yaml and a document separator to buf. */
static int append_example(char *buf, size_t cap, const char *name) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s.yaml", examples, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return -1;
  size_t used = strlen(buf);
  size_t n = fread(buf + used, 1, cap - used - 8, f);
  fclose(f);
  strcpy(buf + used + n, "\n---\n");
  return 0;
}

static mesh_core_result route(const mesh_core_mesh *m, const char *req, char **out) {
  size_t len = 0;
  mesh_core_result r = mesh_core_route(m, req, strlen(req), out, &len);
  if (*out != NULL && strlen(*out) != len) len_mismatches++;
  return r;
}

static void test_header_route_and_defaults(const mesh_core_mesh *m) {
  char *out = NULL;
  CHECK(route(m, "{\"url\":\"http://myapp/x\",\"headers\":{\"x-version\":\"v2\"},"
                 "\"workload\":\"production/frontend\"}", &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"picked\":{\"host\":\"myapp.production.svc.cluster.local\",\"subset\":\"v2\"") != NULL);
  mesh_core_string_free(out);

  out = NULL;
  CHECK(route(m, "{\"method\":\"POST\",\"url\":\"http://myapp/orders\",\"workload\":\"production/frontend\"}",
              &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"timeout_ms\":30000") != NULL);
  CHECK(strstr(out, "\"attempts\":3,") != NULL);
  CHECK(strstr(out, "\"retriable_status_codes\":[503]") != NULL);
  mesh_core_string_free(out);
}

static void test_canary_converges(const mesh_core_mesh *m) {
  int n = 2000, v2 = 0;
  char req[256];
  for (int seed = 0; seed < n; seed++) {
    char *out = NULL;
    snprintf(req, sizeof req,
             "{\"url\":\"http://myapp/api/x\",\"workload\":\"production/frontend\",\"seed\":%d}", seed);
    if (route(m, req, &out) == MESH_CORE_RESULT_OK &&
        strstr(out, "\"picked\":{\"host\":\"myapp.production.svc.cluster.local\",\"subset\":\"v2\"") != NULL)
      v2++;
    mesh_core_string_free(out);
  }
  double share = (double)v2 / n;
  CHECK(share > 0.08 && share < 0.12);
}

static void test_explain_document(const mesh_core_mesh *m) {
  const char *req = "{\"url\":\"http://myapp/x\",\"workload\":\"production/frontend\",\"seed\":3}";
  char *out = NULL;
  size_t len = 0;
  CHECK(mesh_core_explain(m, req, strlen(req), &out, &len) == MESH_CORE_RESULT_OK);
  CHECK(out != NULL && strncmp(out, "{\"request\":", 11) == 0);
  CHECK(strstr(out, "\"destination_policy\":{") != NULL);
  mesh_core_string_free(out);
}

static void test_bad_requests(const mesh_core_mesh *m) {
  char *out = NULL;
  CHECK(route(m, "{\"url\":\"http://myapp/\",\"sed\":1}", &out) == MESH_CORE_RESULT_INVALID_REQUEST);
  CHECK(out != NULL && strstr(out, "{\"error\":\"request: sed: unknown field `sed`") == out);
  mesh_core_string_free(out);
  out = NULL;
  CHECK(route(m, "not json", &out) == MESH_CORE_RESULT_INVALID_REQUEST);
  mesh_core_string_free(out);
  out = NULL;
  CHECK(route(m, "{\"url\":\"http://myapp/\",\"gateway\":\"production/nope\",\"port\":80}", &out) ==
        MESH_CORE_RESULT_INVALID_REQUEST);
  CHECK(out != NULL && strstr(out, "no server on port 80") != NULL);
  mesh_core_string_free(out);
}

static void test_invalid_config(void) {
  const char *yaml = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
                     "metadata: {name: x, namespace: a}\nspec:\n  hosts: [x]\n  http:\n"
                     "  - route:\n    - destination: {host: x}\n      weight: -5\n";
  mesh_core_mesh *m = (mesh_core_mesh *)&passed; /* must be overwritten with NULL */
  char *diags = NULL;
  size_t len = 0;
  CHECK(mesh_core_mesh_new_from_yaml(yaml, strlen(yaml), "vs.yaml", 7, &m, &diags, &len) ==
        MESH_CORE_RESULT_INVALID_CONFIG);
  CHECK(m == NULL);
  CHECK(diags != NULL && strlen(diags) == len);
  CHECK(diags != NULL && strstr(diags, "\"file\":\"vs.yaml\",\"line\":9,\"column\":15") != NULL);
  CHECK(diags != NULL && strstr(diags, "\"path\":\"spec.http[0].route[0].weight\"") != NULL);
  mesh_core_string_free(diags);
}

static void test_nulls_and_utf8(const mesh_core_mesh *m) {
  mesh_core_mesh *out_mesh = NULL;
  char *out = NULL;
  CHECK(mesh_core_mesh_new_from_yaml(NULL, 0, NULL, 0, &out_mesh, NULL, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
  CHECK(mesh_core_mesh_new_from_yaml("a: b", 4, NULL, 0, NULL, NULL, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
  CHECK(mesh_core_mesh_new_from_yaml("\xff\xfe", 2, NULL, 0, &out_mesh, NULL, NULL) == MESH_CORE_RESULT_INVALID_UTF8);
  CHECK(mesh_core_route(NULL, "{}", 2, &out, NULL) == MESH_CORE_RESULT_NULL_PARAMETER && out == NULL);
  CHECK(mesh_core_route(m, NULL, 0, &out, NULL) == MESH_CORE_RESULT_NULL_PARAMETER && out == NULL);
  CHECK(mesh_core_route(m, "{}", 2, NULL, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
  CHECK(mesh_core_mesh_warnings(NULL, &out, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
  CHECK(strcmp(mesh_core_result_message(MESH_CORE_RESULT_INVALID_CONFIG), "the mesh configuration is invalid") == 0);
  mesh_core_mesh_free(NULL);
  mesh_core_string_free(NULL);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s EXAMPLES_DIR\n", argv[0]);
    return 2;
  }
  snprintf(examples, sizeof examples, "%s", argv[1]);
  mesh_core_mesh *dir = NULL;
  char *warnings = NULL;
  size_t wlen = 0;
  mesh_core_result r = mesh_core_mesh_new_from_path(examples, strlen(examples), &dir, &warnings, &wlen);
  CHECK(r == MESH_CORE_RESULT_OK && dir != NULL);
  /* Three VirtualServices claim myapp: two shadowing warnings, as the Rust test expects. */
  CHECK(warnings != NULL && strlen(warnings) == wlen && strstr(warnings, "spec.hosts[0]") != NULL);
  mesh_core_string_free(warnings);
  char *again = NULL;
  CHECK(mesh_core_mesh_warnings(dir, &again, NULL) == MESH_CORE_RESULT_OK && again != NULL && again[0] == '[');
  mesh_core_string_free(again);
  mesh_core_mesh_free(dir);

  static char yaml[1 << 16];
  CHECK(append_example(yaml, sizeof yaml, "virtualservice-myapp") == 0);
  CHECK(append_example(yaml, sizeof yaml, "destinationrule-myapp") == 0);
  mesh_core_mesh *m = NULL;
  CHECK(mesh_core_mesh_new_from_yaml(yaml, strlen(yaml), "myapp.yaml", 10, &m, NULL, NULL) == MESH_CORE_RESULT_OK);
  if (m != NULL) {
    test_header_route_and_defaults(m);
    test_canary_converges(m);
    test_explain_document(m);
    test_bad_requests(m);
    test_nulls_and_utf8(m);
  }
  test_invalid_config();
  CHECK(len_mismatches == 0);
  mesh_core_mesh_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
