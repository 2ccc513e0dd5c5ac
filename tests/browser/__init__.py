"""The screens driven in Debian's chromium through Playwright (skipped without /usr/bin/chromium)."""
