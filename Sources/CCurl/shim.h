#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call; these typed wrappers can. */
static inline CURLcode unrip_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode unrip_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode unrip_curl_setopt_write(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode unrip_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
/* The reply's Retry-After in seconds (a date is converted), -1 when absent. */
static inline long long unrip_curl_retry_after(CURL *h) {
    curl_off_t v = -1;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &v) != CURLE_OK || v < 0) return -1;
    return (long long)v;
}
