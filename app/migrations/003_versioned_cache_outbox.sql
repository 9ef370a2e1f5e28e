-- Bounded cache staleness (app/cache.py): every product row carries a version that each update raises, and
-- every insert or update queues the product in cache_outbox in the same transaction, whoever writes it (the
-- service, an operator's psql). Each service process drains the outbox into Redis with a compare-and-set on
-- the version, so an update whose cache refresh failed (Redis down or hung) still reaches the cache.
ALTER TABLE products ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE TABLE cache_outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id bigint NOT NULL
);

CREATE FUNCTION products_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER products_version BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_next_version();

CREATE FUNCTION products_to_cache_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_outbox (product_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_cache_outbox AFTER INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_to_cache_outbox();
