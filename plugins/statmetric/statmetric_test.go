package statmetric

import (
	"bytes"
	"fmt"
	"testing"
)

func TestChunksSplitsAtLineBoundaries(t *testing.T) {
	var payload []byte
	for i := 0; i < 1000; i++ {
		payload = append(payload, fmt.Sprintf("stats.m%04d %d 1700000000\n", i, i)...)
	}
	chunks, dropped := Chunks(payload, 1000)
	if dropped != 0 {
		t.Fatalf("dropped %d", dropped)
	}
	if len(chunks) < 2 {
		t.Fatalf("got %d chunks", len(chunks))
	}
	var joined []byte
	for _, c := range chunks {
		if len(c) > 1000 {
			t.Errorf("chunk of %d bytes over the limit", len(c))
		}
		if c[len(c)-1] != '\n' {
			t.Errorf("chunk does not end at a line: %q", c[len(c)-10:])
		}
		joined = append(joined, c...)
	}
	if !bytes.Equal(joined, payload) {
		t.Error("chunks do not add up to the payload")
	}
}

func TestChunksDropsOverlongLine(t *testing.T) {
	payload := []byte("a 1 1\n" + string(bytes.Repeat([]byte("x"), 50)) + " 1 1\nb 2 2\n")
	chunks, dropped := Chunks(payload, 20)
	if dropped != 1 {
		t.Errorf("dropped = %d, want 1", dropped)
	}
	var joined []byte
	for _, c := range chunks {
		joined = append(joined, c...)
	}
	if string(joined) != "a 1 1\nb 2 2\n" {
		t.Errorf("kept %q", joined)
	}
}
