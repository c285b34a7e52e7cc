// Broadcast one AXI4-Stream to two consumers (a fire module's squeeze output feeds both expands).
// Each output has its own register, so a slow consumer never sees its VALID depend on the other.
`default_nettype none
module accel_fork #(
    parameter W = 8
) (
    input  wire         clk,
    input  wire         rst_n,
    input  wire [W-1:0] s_data,
    input  wire         s_last,
    input  wire         s_valid,
    output wire         s_ready,
    output reg  [W-1:0] m0_data,
    output reg          m0_last,
    output reg          m0_valid,
    input  wire         m0_ready,
    output reg  [W-1:0] m1_data,
    output reg          m1_last,
    output reg          m1_valid,
    input  wire         m1_ready
);
    wire free0 = !m0_valid || m0_ready;
    wire free1 = !m1_valid || m1_ready;
    assign s_ready = free0 && free1;
    wire push = s_valid && s_ready;
    always @(posedge clk) begin
        if (push) begin
            m0_data <= s_data; m0_last <= s_last;
            m1_data <= s_data; m1_last <= s_last;
        end
    end
    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            m0_valid <= 1'b0; m1_valid <= 1'b0;
        end else begin
            if (push) begin
                m0_valid <= 1'b1; m1_valid <= 1'b1;
            end else begin
                if (m0_ready) m0_valid <= 1'b0;
                if (m1_ready) m1_valid <= 1'b0;
            end
        end
    end
endmodule
`default_nettype wire
