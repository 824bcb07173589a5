"""Dissolution and liquidation of an association (撤销清算), as the Linyi notice requires:
freeze, collect every loan, list the unrecoverable for write-off review, refund each member's
deposit exactly, return fiscal capital by level, and close the sub-account at zero once the
bank's statement shows it. Every step is audited; the workflow stops and resumes anywhere."""
