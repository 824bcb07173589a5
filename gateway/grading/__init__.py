"""Members' credit grades (信用等级), reviewed once a year: on-time repayers go up the county's
credit-grade table (and their limit with it), late repayers go down; every change audited."""
