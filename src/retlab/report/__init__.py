"""retlab.report"""
