"""The model folder as the source of the facts it holds (issue 27): what its configs and file headers
say (`read`), the card written or kept in step from them (`write`: `cardgen new --from`, `cardgen sync`),
and every copy of a fact checked against the others (`check`: in `validate` and `smoke --tokenizer-only`)."""
