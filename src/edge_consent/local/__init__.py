"""A local CloudFront: the distribution of template.yaml, its Lambda@Edge functions, a demo origin and DynamoDB."""
