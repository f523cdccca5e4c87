"""The HTTP side of /graphql: media types (GraphQL over HTTP) and GraphiQL's page and files."""
