"""retlab.sweep"""
