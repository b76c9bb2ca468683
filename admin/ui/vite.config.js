import { defineConfig } from 'vite';

// The built dashboard lands in dist/, which admin/ui.go embeds. Assets get
// content-hashed names under /assets/. `npm run dev` proxies the API to a
// local roost (admin.address 127.0.0.1:8080).
export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/metrics': 'http://127.0.0.1:8080' } },
});
