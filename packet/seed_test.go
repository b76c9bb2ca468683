package packet

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSeedCorpus regenerates testdata/fuzz/FuzzDecode from the vector
// tables when ROOST_WRITE_SEEDS=1; otherwise it checks the corpus exists.
func TestWriteSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if os.Getenv("ROOST_WRITE_SEEDS") != "1" {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
			t.Fatalf("seed corpus missing in %s: %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v Version, raw []byte) {
		data := append([]byte{byte(v)}, raw...)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, table := range allVectors {
		for _, c := range table {
			n++
			write(fmt.Sprintf("valid-%03d", n), c.v, c.raw)
		}
	}
	for i, c := range malformed {
		write(fmt.Sprintf("bad-%03d", i), c.v, c.raw)
	}
}
