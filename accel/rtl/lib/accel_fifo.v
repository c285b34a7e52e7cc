// AXI4-Stream FIFO (data + TLAST), DEPTH entries in an inferable RAM; full throughput, registered
// output. Used where two branches of different latency meet (the fire module's expand1x1 path).
`default_nettype none
module accel_fifo #(
    parameter W     = 8,
    parameter DEPTH = 16
) (
    input  wire         clk,
    input  wire         rst_n,
    input  wire [W-1:0] s_data,
    input  wire         s_last,
    input  wire         s_valid,
    output wire         s_ready,
    output reg  [W-1:0] m_data,
    output reg          m_last,
    output reg          m_valid,
    input  wire         m_ready
);
    localparam AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    reg [W:0] mem [0:DEPTH-1];
    reg [AW-1:0] wp, rp;
    reg [AW:0] count;                  // entries in the RAM (not counting the output register)
    wire take = m_ready || !m_valid;   // output register free this cycle
    wire pop  = take && (count != 0);
    wire push = s_valid && s_ready;
    assign s_ready = (count != DEPTH);
    always @(posedge clk) begin
        if (push) mem[wp] <= {s_last, s_data};
        if (pop) {m_last, m_data} <= mem[rp];
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            wp <= 0; rp <= 0; count <= 0; m_valid <= 1'b0;
        end else begin
            if (push) wp <= (wp == DEPTH - 1) ? 0 : wp + 1'b1;
            if (pop)  rp <= (rp == DEPTH - 1) ? 0 : rp + 1'b1;
            count <= count + push - pop;
            if (take) m_valid <= (count != 0);
        end
    end
endmodule
`default_nettype wire
