/* The C API on the shipped examples: the decisions the Rust tests check, every error path,
 * and no leak (built with -fsanitize=address,undefined). Prints "N passed, N failed". */
#include <stdbool.h>
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

static mesh_core_result authorize(const mesh_core_mesh *m, const char *principal, const char *path,
                                  const char *mtls, char **out) {
  char req[1024];
  snprintf(req, sizeof req,
           "{\"url\":\"http://myapp.production%s\",\"mtls\":%s,\"source_principal\":\"%s\","
           "\"destination_workload\":\"production/myapp\",\"destination_labels\":{\"app\":\"myapp\"}}",
           path, mtls, principal);
  size_t len = 0;
  *out = NULL;
  mesh_core_result r = mesh_core_authorize(m, req, strlen(req), out, &len);
  if (*out != NULL && strlen(*out) != len) len_mismatches++;
  return r;
}

static void test_authorize(void) {
  static char yaml[1 << 14];
  CHECK(append_example(yaml, sizeof yaml, "authorizationpolicy-myapp") == 0);
  mesh_core_mesh *m = NULL;
  CHECK(mesh_core_mesh_new_from_yaml(yaml, strlen(yaml), NULL, 0, &m, NULL, NULL) == MESH_CORE_RESULT_OK);
  if (m == NULL) return;
  char *out = NULL;
  const char *frontend = "cluster.local/ns/production/sa/frontend";
  CHECK(authorize(m, frontend, "/api/x", "true", &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"decision\":\"ALLOW\",\"status\":null") != NULL);
  CHECK(strstr(out, "\"policy\":\"production/myapp-authz\",\"rule\":0,\"action\":\"ALLOW\"") != NULL);
  mesh_core_string_free(out);
  CHECK(authorize(m, "cluster.local/ns/production/sa/intruder", "/api/x", "true", &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"decision\":\"DENY\",\"status\":403,\"reason\":\"") != NULL);
  CHECK(strstr(out, "\"reason\":\"\"") == NULL);
  mesh_core_string_free(out);
  CHECK(authorize(m, frontend, "/api/x", "false", &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"status\":403") != NULL);
  mesh_core_string_free(out);
  CHECK(authorize(m, "cluster.local/ns/elsewhere/sa/probe", "/health", "false", &out) == MESH_CORE_RESULT_OK);
  CHECK(strstr(out, "\"decision\":\"ALLOW\"") != NULL && strstr(out, "\"rule\":1") != NULL);
  mesh_core_string_free(out);
  const char *gw = "{\"url\":\"http://myapp/\",\"gateway\":\"istio-system/gw\",\"port\":80}";
  out = NULL;
  CHECK(mesh_core_authorize(m, gw, strlen(gw), &out, NULL) == MESH_CORE_RESULT_INVALID_REQUEST);
  CHECK(out != NULL && strstr(out, "destination_workload") != NULL);
  mesh_core_string_free(out);
  CHECK(mesh_core_authorize(NULL, gw, strlen(gw), &out, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
  mesh_core_mesh_free(m);
}

static int withdrawals(mesh_core_retry_budget *b, int tries) {
  int allowed = 0;
  for (int i = 0; i < tries; i++) {
    bool ok = false;
    if (mesh_core_retry_budget_withdraw(b, &ok) == MESH_CORE_RESULT_OK && ok) allowed++;
  }
  return allowed;
}

static void test_retry_budget(void) {
  mesh_core_retry_budget *b = NULL;
  CHECK(mesh_core_retry_budget_new(0.2, 0, 10.0, &b) == MESH_CORE_RESULT_OK && b != NULL);
  for (int i = 0; i < 100; i++) CHECK(mesh_core_retry_budget_deposit(b) == MESH_CORE_RESULT_OK);
  CHECK(withdrawals(b, 50) == 20);
  /* After the window (ttl) the deposits have expired. */
  for (int i = 0; i < 100; i++) mesh_core_retry_budget_deposit(b);
  CHECK(mesh_core_retry_budget_advance(b, 11.0) == MESH_CORE_RESULT_OK);
  CHECK(withdrawals(b, 5) == 0);
  CHECK(mesh_core_retry_budget_advance(b, -1.0) == MESH_CORE_RESULT_INVALID_SETTINGS);
  mesh_core_retry_budget_free(b);
  /* The minimum comes on top: 1/s over 10 s. */
  CHECK(mesh_core_retry_budget_new(0.2, 1, 10.0, &b) == MESH_CORE_RESULT_OK);
  for (int i = 0; i < 100; i++) mesh_core_retry_budget_deposit(b);
  CHECK(withdrawals(b, 50) == 30);
  mesh_core_retry_budget_free(b);
  b = (mesh_core_retry_budget *)1;
  CHECK(mesh_core_retry_budget_new(-1.0, 0, 10.0, &b) == MESH_CORE_RESULT_INVALID_SETTINGS && b == NULL);
  CHECK(mesh_core_retry_budget_withdraw(NULL, NULL) == MESH_CORE_RESULT_NULL_PARAMETER);
}

static void test_outlier_detector(void) {
  const char *settings = "{\"hosts\":[\"a\",\"b\"],\"consecutive_5xx\":5,\"interval\":\"1s\","
                         "\"base_ejection_time\":\"30s\",\"max_ejection_percent\":100}";
  mesh_core_outlier_detector *d = NULL;
  CHECK(mesh_core_outlier_detector_new(settings, strlen(settings), &d) == MESH_CORE_RESULT_OK && d != NULL);
  if (d == NULL) return;
  int fired = 0;
  for (int i = 0; i < 5; i++) {
    bool ejected = false;
    CHECK(mesh_core_outlier_detector_record(d, "a", 1, 503, &ejected) == MESH_CORE_RESULT_OK);
    fired += ejected ? (i == 4 ? 1 : 100) : 0;
  }
  CHECK(fired == 1);
  CHECK(mesh_core_outlier_detector_record(d, "b", 1, 503, NULL) == MESH_CORE_RESULT_OK);
  char *out = NULL;
  size_t len = 0;
  CHECK(mesh_core_outlier_detector_ejected(d, &out, &len) == MESH_CORE_RESULT_OK);
  CHECK(out != NULL && strcmp(out, "[\"a\"]") == 0 && len == 5);
  mesh_core_string_free(out);
  CHECK(mesh_core_outlier_detector_advance(d, 29.0) == MESH_CORE_RESULT_OK);
  CHECK(mesh_core_outlier_detector_ejected(d, &out, NULL) == MESH_CORE_RESULT_OK);
  CHECK(strcmp(out, "[\"a\"]") == 0);
  mesh_core_string_free(out);
  CHECK(mesh_core_outlier_detector_advance(d, 2.0) == MESH_CORE_RESULT_OK);
  CHECK(mesh_core_outlier_detector_ejected(d, &out, NULL) == MESH_CORE_RESULT_OK);
  CHECK(strcmp(out, "[]") == 0);
  mesh_core_string_free(out);
  CHECK(mesh_core_outlier_detector_record(d, "c", 1, 503, NULL) == MESH_CORE_RESULT_INVALID_SETTINGS);
  CHECK(mesh_core_outlier_detector_record(d, "a", 1, 700, NULL) == MESH_CORE_RESULT_INVALID_SETTINGS);
  mesh_core_outlier_detector_free(d);
  const char *bad = "{\"hosts\":[\"a\"],\"interval\":5}";
  d = (mesh_core_outlier_detector *)1;
  CHECK(mesh_core_outlier_detector_new(bad, strlen(bad), &d) == MESH_CORE_RESULT_INVALID_SETTINGS && d == NULL);
  CHECK(mesh_core_outlier_detector_new(NULL, 0, &d) == MESH_CORE_RESULT_NULL_PARAMETER);
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
  test_authorize();
  test_retry_budget();
  test_outlier_detector();
  CHECK(len_mismatches == 0);
  mesh_core_mesh_free(m);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
