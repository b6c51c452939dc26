package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/secure-build/secure-build/internal/testutil"
)

// pageSize is the most tags pagedTags answers a request with, whatever the
// client asks for, as Docker Hub caps pages at 100.
const pageSize = 3

// pagedTags serves tag lists in pages of pageSize with a Link header to the
// next page, as the distribution spec says; the in-memory registry does
// not. pages counts the tag list requests.
func pagedTags(pages *int) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/tags/list") {
				h.ServeHTTP(w, r)
				return
			}
			*pages++
			n := pageSize
			if asked, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && asked < n {
				n = asked
			}
			// One more than the page, to know whether another follows.
			q := r.URL.Query()
			q.Set("n", strconv.Itoa(n+1))
			r.URL.RawQuery = q.Encode()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var list struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil {
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			if len(list.Tags) > n {
				list.Tags = list.Tags[:n]
				w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, list.Name, n, list.Tags[n-1]))
			}
			json.NewEncoder(w).Encode(list)
		})
	}
}

func TestListTags(t *testing.T) {
	var pages int
	host := testutil.MemoryRegistry(t, pagedTags(&pages))
	img := randomImage(t)
	var want []string
	for i := range 2*pageSize + 1 {
		tag := fmt.Sprintf("1.%d", i)
		if err := remote.Write(mustRef(t, host+"/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
		want = append(want, tag)
	}
	pages = 0
	got, err := ListTags(context.Background(), host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("got %q in %d pages, want %q in 3", got, pages, want)
	}
}

func TestListTagsErrors(t *testing.T) {
	host := testutil.MemoryRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/broken/") {
				http.Error(w, "storage failed", http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	for repo, want := range map[string]string{
		host + "/broken":  "read the tags of " + host + "/broken from the registry: GET http://" + host + "/v2/broken/tags/list?n=1000: unexpected status code 500",
		host + "/missing": "the tags of " + host + "/missing: no such repository in the registry",
		"UPPER/case":      `repository "UPPER/case"`,
	} {
		if _, err := ListTags(context.Background(), repo); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ListTags(%s): %v, want an error containing %q", repo, err, want)
		}
	}
}
