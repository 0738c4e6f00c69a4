"""The Lambda@Edge adapter: CloudFront's event shape, the handlers' runtime and their logs."""
