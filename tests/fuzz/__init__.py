"""Property and fuzz tests over every route and webhook (hypothesis; CALLBRIDGE_TEST_FUZZ_EXAMPLES)."""
