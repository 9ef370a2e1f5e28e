-- Demo catalog: 1,000 products with stock, so the service is useful the moment it starts.
INSERT INTO products (name, description, price_cents, stock)
SELECT 'Product ' || n, 'Demo product number ' || n, 199 + (n * 37) % 9800, 1000
FROM generate_series(1, 1000) AS n;
