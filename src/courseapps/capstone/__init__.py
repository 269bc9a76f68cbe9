"""The capstone: an order-fulfilment system of services, its dashboard and its lab."""
