.PHONY: demo test lint bench

# Install and run the demo at http://localhost:5000/ (development LMS at /dev/platform).
demo:
	bash scripts/demo.sh

# Install test dependencies (Debian chromium + postgresql, Python extras) and run the whole suite on SQLite and PostgreSQL.
test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:
	bash scripts/bench.sh
