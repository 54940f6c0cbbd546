"""Views: lay out recorded results for a reader.  They format numbers and
arrange text; they never compute a number of their own."""
