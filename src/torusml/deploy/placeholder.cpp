// replaced by the deploy sources
