"""Evaluation and reports: the Wenzhou evaluation table (attachment 1), the loan detail table
(attachment 2), the county summary (attachment 3), monthly and annual reports, a suggested
grade with its reasons and the grade the county records. Every figure is computed from the
ledger, the loans and the bank's files; none is typed by hand."""
