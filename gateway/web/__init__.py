"""The county fund office's web console: server-rendered pages, no outside assets."""
