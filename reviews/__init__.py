"""Product reviews: a customer's stars and words about an item they received, shown on the shop's product pages
with their consent."""
