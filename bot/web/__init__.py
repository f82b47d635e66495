"""News from the web: fetch pages and feeds politely, decode, extract articles, add them to the corpus."""
