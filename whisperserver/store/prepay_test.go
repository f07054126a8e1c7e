package store

import (
	"errors"
	"reflect"
	"testing"
)

func TestPrepay(t *testing.T) {
	var asked []int64
	p := prepay{reserve: func(n int64) error {
		asked = append(asked, n)
		if n > 1000 {
			return errors.New("refused")
		}
		return nil
	}}
	// Four files: the first reserves 4 × 100; two more use it; a larger
	// fourth asks for what it needs beyond the 100 left.
	for i, need := range []int64{100, 100, 100, 250} {
		all := 0
		if i == 0 {
			all = 4
		}
		if err := p.take(need, all); err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
	}
	if want := []int64{400, 150}; !reflect.DeepEqual(asked, want) {
		t.Fatalf("reserved %v, want %v", asked, want)
	}
	if err := p.take(2000, 0); err == nil {
		t.Fatal("a refused reservation was not returned")
	}
	if err := (&prepay{reserve: p.reserve}).take(300, 4); err == nil {
		t.Fatal("the first file's estimate for all (1,200) was not refused")
	}
}
