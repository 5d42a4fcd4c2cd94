"""Today's RAGFlow API (`/api/v1/datasets...`, what ragflow-sdk 0.27 calls): its envelope and
error map (`envelope`), request reading and validation in RAGFlow's words (`requests`), and the
one conversion between domain records and its field names (`views`).

It shares the domain, the stores, the dependencies and the API-key check with the seed API
(`kb_ingest.http`): a record created through either generation is the same record.
"""
