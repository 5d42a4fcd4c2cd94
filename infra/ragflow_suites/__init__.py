"""Running RAGFlow's own current API test suites against this service (`make ragflow-suites`)."""
