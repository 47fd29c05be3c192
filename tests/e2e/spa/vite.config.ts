import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `vite build --outDir DIR` builds elsewhere (the browser test builds into its target dir).
export default defineConfig({
  plugins: [react()],
});
