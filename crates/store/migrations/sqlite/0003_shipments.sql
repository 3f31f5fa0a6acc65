-- The seller's shipments of an order to the customer, by carrier and tracking number. An order
-- with shipments counts as delivered when its last shipment is (CRD art. 9(2)(b): goods of one
-- order delivered separately start the withdrawal period with the last); an order without
-- any keeps its own dates.
CREATE TABLE shipments (
    carrier TEXT NOT NULL,
    tracking TEXT NOT NULL,
    order_no TEXT NOT NULL REFERENCES orders (order_no),
    shipped_on TEXT NOT NULL,
    delivered_on TEXT,
    PRIMARY KEY (carrier, tracking),
    CHECK (delivered_on IS NULL OR delivered_on >= shipped_on)
);
CREATE INDEX shipments_by_order ON shipments (order_no);
