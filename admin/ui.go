package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// The dashboard: admin/ui is a Vite project whose built output, committed
// under admin/ui/dist, is embedded here, so `go build` needs no npm. Rebuild
// it with `npm ci && npm run build` in admin/ui after changing admin/ui/src.
//
//go:embed all:ui/dist
var uiFiles embed.FS

//go:embed openapi.json
var openAPI []byte

func uiHandler() http.Handler {
	dist, err := fs.Sub(uiFiles, "ui/dist")
	if err != nil {
		panic(err) // the embedded tree always has ui/dist
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			// Vite names assets by content hash.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		files.ServeHTTP(w, r)
	})
}

func (s *Server) getOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
