package store

import (
	"fmt"
	"testing"

	"github.com/dreamcatcher-monitoring/dreamcatcher/whisperserver/index"
)

// TestHeaderCacheBound: the cache never holds more than MaxCachedHeaders
// entries, and a changed identity is a miss.
func TestHeaderCacheBound(t *testing.T) {
	var c headerCache
	for i := 0; i < MaxCachedHeaders+500; i++ {
		c.put(fmt.Sprintf("/d/m%d.wsp", i), cachedHeader{id: index.FileID{Ino: uint64(i)}, maxRetention: int64(i)})
	}
	if n := c.len(); n != MaxCachedHeaders {
		t.Fatalf("%d entries, want the bound %d", n, MaxCachedHeaders)
	}
	last := fmt.Sprintf("/d/m%d.wsp", MaxCachedHeaders+499)
	if r, ok := c.get(last, index.FileID{Ino: uint64(MaxCachedHeaders + 499)}); !ok || r != int64(MaxCachedHeaders+499) {
		t.Fatalf("newest entry: %d, %v", r, ok)
	}
	if _, ok := c.get(last, index.FileID{Ino: 1}); ok {
		t.Fatal("another inode under the same path hit the cache")
	}
}
